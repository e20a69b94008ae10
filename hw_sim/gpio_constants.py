"""RPi.GPIO 0.7's constants and the simulated board's header, for the fake ``RPi.GPIO``.

The values are the C module's (offsets included), so code that prints or
compares them sees what it would on the device.
"""

from __future__ import annotations

# RPi.GPIO 0.7's constant values (the C module's, offsets included).
HIGH = 1
LOW = 0
OUT = 0
IN = 1
HARD_PWM = 43
SERIAL = 40
I2C = 42
SPI = 41
UNKNOWN = -1
BOARD = 10
BCM = 11
PUD_OFF = 20
PUD_DOWN = 21
PUD_UP = 22
RISING = 31
FALLING = 32
BOTH = 33

VERSION = "0.7.1"
RPI_REVISION = 3
RPI_INFO = {
    "P1_REVISION": 3,
    "REVISION": "c03114",
    "TYPE": "Pi 4 Model B",
    "MANUFACTURER": "Sony UK",
    "PROCESSOR": "BCM2711",
    "RAM": "4G",
}

#: Physical header pin (BOARD numbering) -> BCM GPIO number, 40-pin header.
BOARD_TO_BCM = {
    3: 2, 5: 3, 7: 4, 8: 14, 10: 15, 11: 17, 12: 18, 13: 27, 15: 22, 16: 23,
    18: 24, 19: 10, 21: 9, 22: 25, 23: 11, 24: 8, 26: 7, 27: 0, 28: 1, 29: 5,
    31: 6, 32: 12, 33: 13, 35: 19, 36: 16, 37: 26, 38: 20, 40: 21,
}
BCM_PINS = range(28)
