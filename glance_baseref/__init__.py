"""Store images uploaded from volumes where their base image lives."""
