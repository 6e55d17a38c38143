"""Every hand-written SQL statement of the reminders app, each beside the ORM form of the
same operation: the message queue's (`queue.py`, many rows at a time) and what comes in
from outside one row at a time, the check-in link and the delivery reports
(`inbound.py`). PostgreSQL takes the statement (prepared once per connection, SKIP
LOCKED where dispatchers compete); SQLite (`make run`, one writer at a time) takes the ORM
form. Each pair is proven to give the same answer in tests/reminders/test_sql.py. Table
and status names come from the models, so a renamed table or status cannot leave a
statement behind."""

from .inbound import (
    Reported,
    ReportMove,
    checkin_link,
    checkin_link_locked,
    checkin_link_locked_orm,
    checkin_link_locked_sql,
    checkin_link_orm,
    checkin_link_sql,
    report_apply,
    report_apply_orm,
    report_apply_sql,
)
from .queue import (
    CLAIMED_COLUMNS,
    CLAIMED_LOAD,
    claim_due,
    claim_due_orm,
    claim_due_sql,
    claimed_rows,
    claimed_rows_orm,
    claimed_rows_sql,
    due_rows,
    due_rows_orm,
    due_rows_sql,
    outcome_guard,
    pending_cancel,
    pending_cancel_orm,
    pending_cancel_sql,
    pending_close,
    pending_close_orm,
    pending_close_sql,
    plan_numbers,
    plan_numbers_orm,
    plan_numbers_sql,
)

__all__ = [
    "CLAIMED_COLUMNS",
    "CLAIMED_LOAD",
    "ReportMove",
    "Reported",
    "checkin_link",
    "checkin_link_locked",
    "checkin_link_locked_orm",
    "checkin_link_locked_sql",
    "checkin_link_orm",
    "checkin_link_sql",
    "claim_due",
    "claim_due_orm",
    "claim_due_sql",
    "claimed_rows",
    "claimed_rows_orm",
    "claimed_rows_sql",
    "due_rows",
    "due_rows_orm",
    "due_rows_sql",
    "outcome_guard",
    "pending_cancel",
    "pending_cancel_orm",
    "pending_cancel_sql",
    "pending_close",
    "pending_close_orm",
    "pending_close_sql",
    "plan_numbers",
    "plan_numbers_orm",
    "plan_numbers_sql",
    "report_apply",
    "report_apply_orm",
    "report_apply_sql",
]
