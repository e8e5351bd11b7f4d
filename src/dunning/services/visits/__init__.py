"""Field visits (外访): requests checked against the visit policy, registration and approval (报备), two-person
teams with valid credentials, route planning (OR-Tools), the field page's events, the safety timer with
escalation, outcomes flowing back (promises to pay), and public verification of a registration number.

Modules: ``policy`` (the YAML policy as a value), ``registry`` (field staff), ``requests`` (request, checks,
decide, verify), ``field`` (check-in, outcome, check-out, SOS), ``safety`` (tick, acknowledge), ``routing``
(vehicle routing with time windows), ``queries`` (console read models), ``notice`` (the visit-notice SMS),
``demo`` (a few demo visits).
"""
