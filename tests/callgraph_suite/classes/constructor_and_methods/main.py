class Account:
    def __init__(self, owner):
        self.owner = owner
        self.balance = 0
        self._log("open")

    def _log(self, what):
        print(self.owner, what)

    def deposit(self, amount):
        self.balance += amount
        self._log("deposit")
        return self


acct = Account("ann")
acct.deposit(5).deposit(7)
