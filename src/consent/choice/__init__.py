"""The cookie-consent feature: the signed consent cookie and what the visitor's choice allows,
and the enforcement of that choice on the cookies a response sets. Nothing here knows about
browsers or pages."""
