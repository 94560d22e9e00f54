"""gunicorn's settings for Timelines: the image's command (deploy/compose.yaml's app service)
and the production-shape suite both read this file, so what is tested is what is shipped."""

bind = "0.0.0.0:8000"
workers = 4
worker_class = "sync"
# A worker stuck longer than this on one request is replaced (nginx waits a little longer).
timeout = 60
graceful_timeout = 20

# One access line a request: client, request line, status, bytes, time taken, request id. The
# logger class redacts secrets (URL tokens, API tokens) from every line, and follows LOG_FORMAT.
accesslog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s" rid=%({x-request-id}o)s'
errorlog = "-"
logger_class = "timelines.gunicorn_logs.Logger"
