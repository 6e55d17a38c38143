"""The staff's sessions: Django's database session store, its one read on every request
(the session by its key, not expired) a prepared statement on PostgreSQL (core/sql.py).
`SESSION_ENGINE = "core.sessions"`; writes are Django's own."""

from __future__ import annotations

import logging

from django.contrib.sessions.backends import db
from django.contrib.sessions.models import Session
from django.core.exceptions import SuspiciousOperation
from django.utils import timezone

from . import sql


class SessionStore(db.SessionStore):
    def _get_session_from_db(self) -> Session | None:
        # As db.SessionStore's own: a key that is not a live session is forgotten.
        session = None
        try:
            if self.session_key is not None:
                session = sql.session_live(self.session_key, timezone.now())
        except SuspiciousOperation as error:
            logging.getLogger(f"django.security.{error.__class__.__name__}").warning(str(error))
        if session is None:
            self._session_key = None
        return session
