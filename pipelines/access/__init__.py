"""Who may do what: accounts and sign-in (``accounts``), roles scoped to units (``roles``), the review
of submissions (``review``) and the append-only audit trail (``audit``)."""
