"""Reports people look at: HTML with charts (Plotly, fully offline) and Excel exports."""
