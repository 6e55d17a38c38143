"""The FHIR R4 interface (contract 2) beside `/api/v1/`: the booking system's Appointment and
the population register's Patient as HL7 FHIR resources, on the same services, scopes and
access log as the JSON API. `appointments.py` and `patients.py` turn resources into the
services' inputs and the stored rows back into resources (`mapping.py`: the code systems,
ids and parsing they share), `outcome.py` makes every refusal an
OperationOutcome, `capability.py` says what is supported, `api.py` holds the endpoints.

Resources are parsed and built with fhir.resources' R4B models (4.3.0, R4's technical
correction release; the library's 4.0.1 models need pydantic 1). The elements this
interface reads and writes are the same in R4 and R4B (Patient, OperationOutcome and
CapabilityStatement are normative since R4), so an R4 client reads and sends them as they
are; the CapabilityStatement says 4.0.1."""
