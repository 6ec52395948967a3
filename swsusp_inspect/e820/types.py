"""e820 region types and their names.

References:
    arch/x86/include/asm/e820/types.h (2.6.28 -> 6.17): ``enum e820_type``.
    arch/x86/kernel/e820.c ``e820_print_type()`` (names in ``BIOS-e820:`` lines) and
    ``e820_type_to_string()`` (names in /proc/iomem and /sys/firmware/memmap).
    Newest kernels (seen on 7.2) print ``System RAM`` / ``device reserved`` in ``BIOS-e820:``
    lines; iomem and sysfs names are unchanged.  2.6.28 printed ``reserved`` in lower case in
    iomem/sysfs, later kernels ``Reserved``.
"""

from __future__ import annotations

import enum
import re

__all__ = [
    "RAM_TYPES",
    "E820Type",
    "dmesg_name",
    "iomem_name",
    "type_from_iomem_name",
    "type_from_log_name",
]


class E820Type(enum.IntEnum):
    """Kernel e820 type codes (``enum e820_type``)."""

    RAM = 1
    RESERVED = 2
    ACPI = 3
    NVS = 4
    UNUSABLE = 5
    PMEM = 7
    PRAM = 12
    RESERVED_KERN = 128
    SOFT_RESERVED = 0xEFFFFFFF
    # Not a kernel value: iomem prints "Unknown E820 type" without the number.  The highest u32
    # so that sanitizing never lets it lose to a known type.
    UNKNOWN = 0xFFFFFFFF


# RAM for hibernation: E820_TYPE_RAM and E820_RESERVED_KERN (setup_data pieces carved out of RAM).
RAM_TYPES = (int(E820Type.RAM), int(E820Type.RESERVED_KERN))

_DMESG = {
    E820Type.RAM: "usable",
    E820Type.RESERVED_KERN: "usable",
    E820Type.RESERVED: "reserved",
    E820Type.ACPI: "ACPI data",
    E820Type.NVS: "ACPI NVS",
    E820Type.UNUSABLE: "unusable",
    E820Type.PMEM: "persistent (type 7)",
    E820Type.PRAM: "persistent (type 12)",
    E820Type.SOFT_RESERVED: "soft reserved",
    E820Type.UNKNOWN: "unknown type",
}

_IOMEM = {
    E820Type.RAM: "System RAM",
    E820Type.RESERVED_KERN: "System RAM",
    E820Type.RESERVED: "Reserved",
    E820Type.ACPI: "ACPI Tables",
    E820Type.NVS: "ACPI Non-volatile Storage",
    E820Type.UNUSABLE: "Unusable memory",
    E820Type.PMEM: "Persistent Memory",
    E820Type.PRAM: "Persistent Memory (legacy)",
    E820Type.SOFT_RESERVED: "Soft Reserved",
    E820Type.UNKNOWN: "Unknown E820 type",
}

# Every spelling a log line may carry, lower-cased -> code.  Logs print dmesg names; the 7.x
# kernels print iomem-like names ("System RAM", "device reserved").
_LOG_NAMES: dict[str, int] = {
    "usable": 1,
    "system ram": 1,
    "reserved": 2,
    "device reserved": 2,
    "acpi data": 3,
    "acpi tables": 3,
    "acpi nvs": 4,
    "acpi non-volatile storage": 4,
    "unusable": 5,
    "unusable memory": 5,
    "soft reserved": int(E820Type.SOFT_RESERVED),
    "persistent memory": 7,
    "persistent memory (legacy)": 12,
}
_TYPE_N = re.compile(r"^(?:persistent \()?type (\d+)\)?$")

_IOMEM_NAMES: dict[str, int] = {
    "system ram": 1,
    "reserved": 2,
    "acpi tables": 3,
    "acpi non-volatile storage": 4,
    "unusable memory": 5,
    "persistent memory": 7,
    "persistent memory (legacy)": 12,
    "soft reserved": int(E820Type.SOFT_RESERVED),
    "unknown e820 type": int(E820Type.UNKNOWN),
}


def dmesg_name(code: int) -> str:
    """The name ``e820_print_type()`` prints for a type code (``type N`` when unknown)."""
    try:
        return _DMESG[E820Type(code)]
    except ValueError:
        return f"type {code}"


def iomem_name(code: int) -> str:
    """The name /proc/iomem and /sys/firmware/memmap show for a type code."""
    try:
        return _IOMEM[E820Type(code)]
    except ValueError:
        return "Unknown E820 type"


def type_from_log_name(text: str) -> int | None:
    """Type code for a name printed in a kernel log line, or None when it is not one."""
    key = " ".join(text.split()).lower()
    if key in _LOG_NAMES:
        return _LOG_NAMES[key]
    m = _TYPE_N.match(key)
    if m:
        value = int(m.group(1))
        return value if value <= 0xFFFFFFFF else None
    return None


def type_from_iomem_name(text: str) -> int | None:
    """Type code for an iomem/sysfs resource name, or None for names e820 never produces."""
    return _IOMEM_NAMES.get(" ".join(text.split()).lower())
