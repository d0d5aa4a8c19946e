"""The engine: parse, analyse, match rules, apply the policy, and decide."""
