"""The framework example agents: one small tool-using agent per framework, on its adapter."""
