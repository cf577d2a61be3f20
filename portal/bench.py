"""What `make bench` needs inside the portal, installed only when PORTAL_BENCH=1 (never in production).

- `trivial`: the ceiling of the benchmark, a view that touches neither the database nor the session's user,
  so its throughput is what the Django stack, gunicorn and the load generator can do on this machine.
- `trivial_signed_in`: the ceiling of a signed-in page, the same view after the session and its user are
  loaded (what every page of the portal pays before it does anything of its own).
- `QueryCountMiddleware`: counts the SQL queries of each request (every middleware included, as it is the
  outermost one) and reports them in the `X-Queries` response header, which the driver reads.
"""

from __future__ import annotations

from django.db import connection
from django.http import HttpResponse
from django.views.decorators.cache import never_cache

QUERIES_HEADER = "X-Queries"


@never_cache
def trivial(request):
    return HttpResponse(b"ok", content_type="text/plain")


@never_cache
def trivial_signed_in(request):
    if not request.user.is_authenticated:  # loads the session and the user, as every staff page does
        return HttpResponse(b"signed out", content_type="text/plain", status=403)
    return HttpResponse(b"ok", content_type="text/plain")


class _Counter:
    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


class QueryCountMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        counter = _Counter()
        # execute_wrapper counts on this thread's connection only, so gthread workers do not mix requests.
        with connection.execute_wrapper(counter):
            response = self.get_response(request)
        response[QUERIES_HEADER] = str(counter.count)
        return response
