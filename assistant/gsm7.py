"""GSM 03.38 (GSM-7) character counting, the alphabet SMS uses for 160-character segments."""
from __future__ import annotations

BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Characters reached through the escape code: each costs two septets.
EXTENDED = set("^{}\\[~]|€\f")


def is_gsm7(text: str) -> bool:
    return all(char in BASIC or char in EXTENDED for char in text)


def septet_length(text: str) -> int:
    """Length in GSM-7 septets; raises ValueError naming the first character outside GSM-7."""
    length = 0
    for char in text:
        if char in BASIC:
            length += 1
        elif char in EXTENDED:
            length += 2
        else:
            raise ValueError(f"character {char!r} (U+{ord(char):04X}) is not in the GSM-7 alphabet")
    return length
