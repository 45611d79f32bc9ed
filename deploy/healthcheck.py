"""Docker HEALTHCHECK of the handocr images: GET /livez on this container, over HTTPS when it serves TLS.

Exit status 0 when /livez answers 200, 1 otherwise (Docker reads 0 as healthy, 1 as unhealthy). Standard
library only: the images have no curl.

``handocr serve`` speaks HTTPS itself when both ``HANDOCR_TLS_CERT`` and ``HANDOCR_TLS_KEY`` are set
(``handocr.service.settings.Settings.tls_enabled``), plain HTTP otherwise; this probe follows the same rule.
Over HTTPS it does not verify the certificate: the certificate names the public host, not 127.0.0.1, and may
be self-signed, and the request never leaves the container. Proxy variables are ignored for the same reason.

    python /opt/handocr/healthcheck.py [--port 8000] [--timeout 4]
"""

from __future__ import annotations

import argparse
import http.client
import os
import ssl
import sys
import urllib.request
from collections.abc import Mapping, Sequence

HOST = "127.0.0.1"
PORT = 8000  # the port of the images' CMD (handocr serve --port 8000)
TIMEOUT_S = 4.0  # under the HEALTHCHECK --timeout (5 s)


def tls_enabled(environ: Mapping[str, str]) -> bool:
    """Whether the service serves HTTPS: both TLS settings set and non-empty, as the service decides."""
    return bool(environ.get("HANDOCR_TLS_CERT")) and bool(environ.get("HANDOCR_TLS_KEY"))


def livez_url(port: int, tls: bool) -> str:
    """The liveness URL of the service on this container's loopback interface."""
    return f"{'https' if tls else 'http'}://{HOST}:{port}/livez"


def probe(port: int = PORT, timeout_s: float = TIMEOUT_S, environ: Mapping[str, str] = os.environ) -> bool:
    """Whether GET /livez answers 200 within ``timeout_s`` seconds (any error, refusal or timeout: False)."""
    tls = tls_enabled(environ)
    handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({})]
    if tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # TLS 1.3 is what the service accepts
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        handlers.append(urllib.request.HTTPSHandler(context=context))
    opener = urllib.request.build_opener(*handlers)
    try:
        with opener.open(livez_url(port, tls), timeout=timeout_s) as response:
            return response.status == 200
    except (OSError, http.client.HTTPException):  # refused, timed out, TLS error, HTTP error status, bad reply
        return False


def main(argv: Sequence[str] | None = None) -> int:
    """Probe once; 0 when healthy, 1 when not."""
    parser = argparse.ArgumentParser(description="GET /livez of handocr serve on 127.0.0.1; exit 0 if 200.")
    parser.add_argument("--port", type=int, default=PORT, help="port of handocr serve (default %(default)s)")
    parser.add_argument("--timeout", type=float, default=TIMEOUT_S, help="seconds to wait (default %(default)s)")
    args = parser.parse_args(argv)
    return 0 if probe(args.port, args.timeout) else 1


if __name__ == "__main__":
    sys.exit(main())
