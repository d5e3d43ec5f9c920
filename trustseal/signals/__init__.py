"""Fraud signals: patterns in a merchant's reviews that staff should look at (bursts of
declared orders turned into reviews, reviews minutes after the order, one network, one
identity). The detector finds them; staff confirm (the reviews go to moderation) or
dismiss them with a reason. Merchants never see them."""
