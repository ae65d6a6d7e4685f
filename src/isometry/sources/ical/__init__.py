"""iCalendar importers: ``apple-calendar`` (VEVENT as event nodes, with the people they name
as person nodes) and ``apple-reminders`` (VTODO as task nodes), for ``.ics`` files as
Calendar, Reminders and other calendar apps export them.

A file is cut into its components by lines (``split``), each parsed on its own by the
``icalendar`` library with the time zones its file defines (``zones``), so a big file is never
held or parsed whole and every record has an exact locator: file, line and byte range. A
component the library cannot read, or whose dates are invalid, is a per-record error; a file
that is not iCalendar at all cannot be imported.
"""

from isometry.sources.ical.importers import CalendarImporter, RemindersImporter

__all__ = ["CalendarImporter", "RemindersImporter"]
