"""What happens to an order: the hook signature (``signature``), the order hook itself
(``order_hook``), a disclosure to a carrier (``disclose``), a cancellation or return
(``cancel``), the recovery of operations a crash left open (``recovery``), and the policy versions
each disclosure names (``policy_versions``)."""
