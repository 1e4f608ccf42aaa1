from django.apps import AppConfig


class SimulationConfig(AppConfig):
    name = "backend.simulation"
    label = "simulation"
