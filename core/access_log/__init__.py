"""The access log (PDL, rules 3.10) on the ground floor: `models.AccessLog` is the log,
`services.access_log_record` / `access_log_record_many` write it. Every app that shows a
patient's data records the read by calling these; the auditor's tools are consent's."""
