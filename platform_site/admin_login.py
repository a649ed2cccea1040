"""The admin's sign-in form."""

from __future__ import annotations

from unfold.forms import AuthenticationForm


class LoginForm(AuthenticationForm):
    """The theme's sign-in form; its first box asks for the login people were given (``admin`` on a
    new install), not for the user model's column name ("External id")."""

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        self.fields["username"].label = "Login"
