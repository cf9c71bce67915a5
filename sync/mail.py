"""Sending reminders by e-mail through the company's SMTP server (`[dunning.smtp]`, opt-in).

One connection for a run's messages; STARTTLS or TLS unless the server is a relay on this
machine. The password is read by `sync/secrets.py` (keyring, else ENCOURS_SMTP_PASSWORD) and
never appears in a message: the server's own words are redacted before they are shown.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from types import TracebackType

from encours.errors import AuthError, TransientError
from encours.sync.dunning_config import SmtpSettings
from encours.sync.secrets import redact

SECRET_NAME = "smtp"  # noqa: S105 - the name the password is kept under, not the password


class SmtpMailer:
    """An open SMTP session: `with SmtpMailer(settings, password) as mailer: mailer.send(...)`."""

    def __init__(self, settings: SmtpSettings, password: str | None) -> None:
        self.settings = settings
        self._password = password
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpMailer:
        settings = self.settings
        try:
            if settings.security == "ssl":
                self._smtp = smtplib.SMTP_SSL(
                    settings.host,
                    settings.port,
                    timeout=settings.timeout_seconds,
                    context=ssl.create_default_context(),
                )
            else:
                self._smtp = smtplib.SMTP(
                    settings.host, settings.port, timeout=settings.timeout_seconds
                )
                if settings.security == "starttls":
                    self._smtp.starttls(context=ssl.create_default_context())
            if settings.user:
                self._smtp.login(settings.user, self._password or "")
        except smtplib.SMTPAuthenticationError:
            self.close()
            raise AuthError(
                f"the SMTP server {settings.host} refused the user {settings.user!r}: check "
                "it, then `encours secrets set smtp password` (or ENCOURS_SMTP_PASSWORD)"
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise TransientError(
                f"cannot reach the SMTP server {settings.host}:{settings.port} "
                f"({redact(str(exc))}); nothing was sent, the next run tries again"
            ) from None
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """End the session (quietly: what was sent is sent)."""
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                pass
            self._smtp = None

    def send(self, recipients: Sequence[str], subject: str, body: str) -> None:
        """Send one plain-text message in UTF-8 to `recipients`.

        Raises:
            TransientError: the server refused it or the connection broke.
        """
        if self._smtp is None:
            raise RuntimeError("use the mailer inside `with`")
        message = EmailMessage()
        message["From"] = self.settings.from_address
        message["To"] = ", ".join(recipients)
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=True)
        message["Message-ID"] = make_msgid(domain=self.settings.from_address.split("@")[1])
        if self.settings.reply_to:
            message["Reply-To"] = self.settings.reply_to
        message.set_content(body)
        try:
            self._smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise TransientError(
                f"the SMTP server did not take the reminder to {', '.join(recipients)} "
                f"({redact(str(exc))}); it is not recorded, the next run sends it"
            ) from None
