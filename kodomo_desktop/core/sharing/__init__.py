"""Working with others safely: what leaves the PC for an outside body, and what comes back.

- ``pseudonymised``: datasets for an analyst (per-export pseudonyms, dates to the month, small cells suppressed); the
  key table (pseudonym → person id) is encrypted and stays on the PC; results keyed by pseudonym come back through it.
- ``sheets``: information sheets the town designs (喬木村 こども情報管理シート, 開成町 情報収集シート), sent as encrypted
  workbooks with row keys and read back as a source; the risk-only watch list for a school or nursery is one of them.
- ``handover``: a family's support file for the receiving town when they move, encrypted to a one-time password.
- ``pooled``: per-round statistics with no person rows, which a prefecture can add up across towns.
- ``crypto``: the password-based envelope of a file that leaves the PC.
"""
