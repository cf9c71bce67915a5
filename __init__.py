"""encours: accounts-receivable outstanding, ageing and DSO, pushed onto the customer record."""
