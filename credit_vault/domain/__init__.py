"""Pure domain logic: models, catalogue, policy, disclosure windows. No SQL, no crypto."""
