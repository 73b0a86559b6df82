"""Hand-over of signed documents to the document management system (DMS).

:mod:`booth.handover.outbox` keeps documents durably until the DMS confirms them,
:mod:`booth.handover.exporters` gets them there (directory drop, WebDAV, HTTP upload),
:mod:`booth.handover.service` ties both together with retries and the audit trail, and
:mod:`booth.handover.config` is the ``[handover]`` configuration section.
"""
