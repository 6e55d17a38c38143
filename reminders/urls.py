from django.urls import path

from . import api, views

api_patterns = [
    path(
        "appointments/<str:external_id>/messages/",
        api.AppointmentMessagesApi.as_view(),
        name="api-appointment-messages",
    ),
    path("outbox/", api.OutboxApi.as_view(), name="api-outbox"),
    path(
        "gateways/46elks/delivery/",
        api.Elks46DeliveryReportApi.as_view(),
        name="api-46elks-delivery",
    ),
    path(
        "gateways/sinch/delivery/",
        api.SinchDeliveryReportApi.as_view(),
        name="api-sinch-delivery",
    ),
]

urlpatterns = [
    path("c/<str:token>/", views.checkin, name="checkin"),
    path("worklist/", views.worklist, name="worklist"),
    path("worklist/<int:message_id>/handled/", views.worklist_handled, name="worklist-handled"),
]
