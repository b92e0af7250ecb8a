"""The service layer between the HTTP handlers and the event store: one module per area
(objects, buckets, multipart; IAM in api.iam.service, notification targets in
api.notify.config). A service function takes parsed arguments, builds a write plan
(domain.write_plan) through the domain aggregates and submits it; handlers only parse the
request and render the answer."""
