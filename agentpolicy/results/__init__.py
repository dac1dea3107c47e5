"""What the use cases produce and the reporters render: check, audit and status results."""
