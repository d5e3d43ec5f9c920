"""The certifier console (/console): seal applications, checklists, site checks, seal
decisions, the moderation queue, overdue complaints and the audit trail."""
