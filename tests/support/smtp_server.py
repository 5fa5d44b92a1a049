"""A real SMTP server on loopback for the mail tests (Debian's python3-aiosmtpd).

usage: smtp_server.py PORT MAILDIR MODE [CERT KEY USER PASSWORD]
MODE: plain (no TLS, no auth), starttls (STARTTLS required, AUTH required after it), tls (TLS
from the first byte, AUTH required). Each message lands in MAILDIR as a Maildir entry; each
accepted login is appended to MAILDIR/../logins. Prints "ready" when listening.
"""
import os
import warnings
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword

warnings.filterwarnings("ignore", category=DeprecationWarning)
port, maildir, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
logins = os.path.join(os.path.dirname(os.path.abspath(maildir)), "logins")


class Auth:
    def __init__(self, user, password):
        self.user, self.password = user.encode(), password.encode()

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == self.user and auth_data.password == self.password
        if ok:
            with open(logins, "a") as f:
                f.write(f"{mechanism} {auth_data.login.decode()}\n")
        # handled=False: aiosmtpd answers a failure itself (535), as a real server does.
        return AuthResult(success=ok, handled=False)


kwargs = {"hostname": "127.0.0.1", "port": port}
if mode != "plain":
    cert, key, user, password = sys.argv[4:8]
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    kwargs.update(authenticator=Auth(user, password), auth_required=True)
    if mode == "starttls":
        kwargs.update(tls_context=ctx, require_starttls=True, auth_require_tls=True)
    else:
        kwargs.update(ssl_context=ctx, auth_require_tls=False)


controller = Controller(Mailbox(maildir), **kwargs)
controller.start()
print("ready", flush=True)
while True:
    time.sleep(3600)
