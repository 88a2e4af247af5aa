"""The sessionwatch demo: an instrumented auth service, simulated cashiers, the exporter and
Prometheus (`sessionwatch-demo`)."""

# Shops of the demo network: the login page offers them and the simulated cashiers work there.
DEMO_SITES = ("Lyon Croix-Rousse", "Grenoble Centre", "Nantes Rezé", "Lille Fives")
