"""Dates and times in the formats documents print them."""

from __future__ import annotations

import datetime as dt

import numpy as np

from synthgen.config import DatesConfig

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# (template over the fields of `date_fields`, the strptime format that parses it back)
DATE_FORMATS = (
    ("{Y}-{m}-{d}", "%Y-%m-%d"),
    ("{m}/{d}/{y}", "%m/%d/%y"),
    ("{d}/{m}/{y}", "%d/%m/%y"),
    ("{m}/{d}/{Y}", "%m/%d/%Y"),
    ("{d}/{m}/{Y}", "%d/%m/%Y"),
    ("{d}.{m}.{Y}", "%d.%m.%Y"),
    ("{Y}/{m}/{d}", "%Y/%m/%d"),
    ("{-d} {b} {Y}", "%d %b %Y"),
    ("{B_UPPER} {d} {Y}", "%B %d %Y"),
    ("{b_UPPER} {d} {Y}", "%b %d %Y"),
    ("{d}-{b_UPPER}-{y}", "%d-%b-%y"),
    ("{d}-{b}-{Y}", "%d-%b-%Y"),
    ("{B} {-d}, {Y}", "%B %d, %Y"),
    ("{a}, {-d} {b} {Y}", "%a, %d %b %Y"),
    ("{H}:{M}", "%H:%M"),
    ("{H}:{M}:{S}", "%H:%M:%S"),
    ("{-I}:{M} {p}", "%I:%M %p"),
    ("{-I}:{M}{p}", "%I:%M%p"),
    ("{d}/{m}/{Y} {H}:{M}:{S}", "%d/%m/%Y %H:%M:%S"),
    ("{m}/{d}/{Y} {-I}:{M} {p}", "%m/%d/%Y %I:%M %p"),
    ("{Y}-{m}-{d} {H}:{M}", "%Y-%m-%d %H:%M"),
    ("{Y}-{m}-{d}T{H}:{M}:{S}", "%Y-%m-%dT%H:%M:%S"),
    ("{d}.{m}.{y} {H}:{M}", "%d.%m.%y %H:%M"),
)


class DateStrings:
    """A random moment between year_min and year_max, written in a random document format."""

    def __init__(self, config: DatesConfig) -> None:
        self.first = dt.datetime(config.year_min, 1, 1)
        self.span_seconds = int((dt.datetime(config.year_max, 12, 31, 23, 59, 59) - self.first).total_seconds())

    def sample(self, rng: np.random.Generator) -> str:
        """One date or time string."""
        return self.sample_with_format(rng)[0]

    def sample_with_format(self, rng: np.random.Generator) -> tuple[str, str]:
        """A date string and the strptime format that parses it back."""
        moment = self.first + dt.timedelta(seconds=int(rng.integers(self.span_seconds + 1)))
        template, parse_format = DATE_FORMATS[int(rng.integers(len(DATE_FORMATS)))]
        return template.format(**date_fields(moment)), parse_format


def date_fields(moment: dt.datetime) -> dict[str, str]:
    """Every field a template may use, written without the C library's locale."""
    hour12 = moment.hour % 12 or 12
    month = MONTHS[moment.month - 1]
    return {
        "Y": f"{moment.year:04d}", "y": f"{moment.year % 100:02d}", "m": f"{moment.month:02d}",
        "d": f"{moment.day:02d}", "-d": str(moment.day), "b": month[:3], "B": month, "b_UPPER": month[:3].upper(),
        "B_UPPER": month.upper(), "a": WEEKDAYS[moment.weekday()][:3], "H": f"{moment.hour:02d}",
        "-I": str(hour12), "M": f"{moment.minute:02d}", "S": f"{moment.second:02d}",
        "p": "AM" if moment.hour < 12 else "PM",
    }
