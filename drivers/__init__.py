"""Thin adapters from hardware libraries (picamera2, RPi.GPIO, spidev, luma.lcd, time)
to the rest of the firmware. The simulation replaces the libraries under them, never
these classes."""
