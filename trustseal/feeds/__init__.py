"""Google review feeds: a shop's verified reviews as Google's Product Reviews feed and
Merchant Reviews feed, kept up to date incrementally (the door: :mod:`.service`)."""
