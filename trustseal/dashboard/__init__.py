"""The merchant dashboard (/dashboard): stores, purchases, answers to reviews and
complaints, API keys, the seal application, the badge, and analytics."""
