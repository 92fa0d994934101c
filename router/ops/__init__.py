"""Operations: logs, metrics, memory and the service manager."""
