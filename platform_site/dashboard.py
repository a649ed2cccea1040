"""The admin index as a dashboard: placeholder replaced below."""


def dashboard_callback(request, context):
    return context
