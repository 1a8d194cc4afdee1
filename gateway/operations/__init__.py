"""What happens to an order: the hook signature (``signature``), the order hook itself
(``order_hook``: verify, serve each hook id once, answer retries from the first answer), a
disclosure to a carrier (``disclose``), a cancellation (``cancel``), what an operation answers
and what each carrier failure means for it (``answer``: the one carrier-result table), the
operation a hook opened as the record holds it (``opened``), the recovery of operations a crash
left open (``recovery``), and the policy versions each disclosure names (``policy_versions``).

Plain code over values: nothing here takes an aiohttp type or imports the HTTP edge; carriers
are reached through the ``carriers`` package's public interface."""
