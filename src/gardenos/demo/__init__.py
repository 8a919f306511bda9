"""Demo data for trying GardenOS: a realistic CRM, generated fast."""
