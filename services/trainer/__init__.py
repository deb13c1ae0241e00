"""The trainer: MP_DATA folders and signer files -> versioned, checked, announced models."""
