"""The outdated-browser feature: version rules, User-Agent and client-hint classification, update
advice, and browserslist queries over shipped release data. Nothing here knows about consent."""
