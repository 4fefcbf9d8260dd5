"""Cookie declarations as a visitor reads them: each category's cookies in one language.

A category may declare its cookies (``categories.<name>.declarations`` in the settings): a name or
glob, the provider, the purpose and how long the cookie lasts. Purpose and duration are plain
text, taken to be in the default language and shown in every language, or a table of language
tag → text. Where the visitor's language has no text of its own, the default language's is
shown, marked with that language (``lang``) so that a screen reader reads it in the right
voice. The preferences dialog, the settings page and the records' wording
all take the rows from :func:`shown_declarations`, so what is recorded is what was shown.
"""

from __future__ import annotations

from dataclasses import dataclass

from consent.settings import CookieDeclaration, CookieOwner, LocalisedText


@dataclass(frozen=True, slots=True)
class ShownText:
    """A text in the visitor's language, or in ``language`` when it was not given in theirs."""

    text: str
    #: The language the text is in when it differs from the page's, else None.
    language: str | None = None


@dataclass(frozen=True, slots=True)
class ShownDeclaration:
    """One row of a category's cookie table, in one language."""

    name: str
    provider: str
    purpose: ShownText
    duration: ShownText

    def as_json(self) -> dict[str, str]:
        """The row's texts, as the records' wording keeps them."""
        return {
            "name": self.name,
            "provider": self.provider,
            "purpose": self.purpose.text,
            "duration": self.duration.text,
        }


def localised(text: LocalisedText, language: str, default_language: str) -> ShownText:
    """``text`` in ``language``: its own, else the default language's (marked as such)."""
    if isinstance(text, str):  # written in the site's default language
        return ShownText(text, None if language == default_language else default_language)
    own = text.get(language)
    if own is None and "-" in language:  # de-CH reads de
        own = text.get(language.split("-", 1)[0])
    if own is not None:
        return ShownText(own)
    # Settings validation makes sure the default language is in every table.
    fallback = default_language if default_language in text else next(iter(text))
    return ShownText(text[fallback], fallback)


def shown_declaration(
    declaration: CookieDeclaration, language: str, default_language: str
) -> ShownDeclaration:
    return ShownDeclaration(
        name=declaration.name,
        provider=declaration.provider,
        purpose=localised(declaration.purpose, language, default_language),
        duration=localised(declaration.duration, language, default_language),
    )


def shown_declarations(
    category: CookieOwner, language: str, default_language: str
) -> tuple[ShownDeclaration, ...]:
    """A category's (or a service's) cookie table in ``language``, in the order the settings
    declare it."""
    return tuple(
        shown_declaration(declaration, language, default_language)
        for declaration in category.declarations
    )
