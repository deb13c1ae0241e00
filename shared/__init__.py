"""What every signstream service shares: wire contract, settings, Redis access, the consumer loop."""
