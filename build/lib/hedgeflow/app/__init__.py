"""The headless application layer: settings, formatting, the text summary, alerts, export, doctor and the process runtime. Never imports Textual."""
