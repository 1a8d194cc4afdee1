"""The disclosure policy, pure: the allow-list per recipient x service x additional service and
its minimisation (``rules``), its config.toml tables (``config``), the explanations and diffs people
read (``explain``), and its words in standard vocabularies (``vocabulary``, ``fides``)."""
