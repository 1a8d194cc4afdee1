"""Reviewing the record: search and single entries (``search``, by the rules of ``params``), the
customer's access report (``reports``, made whole and put in words by ``access_report`` and
``report_text`` with ``locales/``; ``settings``), the transparency report
(``transparency_report``) and the records of processing (``processing``)."""
