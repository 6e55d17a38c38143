from typing import Any

from django.core.management.base import BaseCommand

from core.process import freeze_startup_objects

from ...dispatch import dispatch_in_process


class Command(BaseCommand):
    help = (
        "Claims and sends every due message in this process, without a worker (cron set-ups, "
        "recovery after an outage), and prints what it did."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        freeze_startup_objects()
        counts = dispatch_in_process()
        labels = [
            ("claimed", "hämtade"),
            ("requeued", "återtagna från avbrutna körningar"),
            ("sent", "skickade"),
            ("suppressed", "skickas inte (orsak)"),
            ("expired", "förfallna"),
            ("cancelled", "avbrutna"),
            ("failed", "misslyckade"),
            ("retry", "försöks igen senare"),
            ("unknown", "okänt om de nådde sms-tjänsten (väntar på besked)"),
            ("in_doubt", "i ovisshet efter en avbruten körning"),
            ("settled_sent", "bekräftade skickade av sms-tjänsten"),
            ("settled_not_sent", "aldrig framme, läggs i kö igen"),
            ("settled_unknown", "misslyckade: inget besked inom tiden"),
        ]
        self.stdout.write(
            "Utskick: " + ", ".join(f"{counts.get(key, 0)} {label}" for key, label in labels)
        )
