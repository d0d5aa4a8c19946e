"""A stand-in cloud CLI: ``gcloud compute instances create ...`` posts an order to a billing API.

The billing API is the demo's local fake (``BILLING_URL``); nothing real is bought anywhere.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request


def main() -> int:
    url = os.environ.get("BILLING_URL", "http://127.0.0.1:9/orders")
    order = {"argv": sys.argv[1:], "item": "8x H100 80GB", "hours": 720}
    request = urllib.request.Request(
        url, data=json.dumps(order).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=3) as response:
        print(response.read().decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
