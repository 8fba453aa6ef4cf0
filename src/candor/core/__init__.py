"""What every layer above the store shares: the clock, domain errors, ISO 8601 durations,
signed link tokens, field checks for incoming text, and the Candor context (engine, vault,
clock) that domain operations receive."""
