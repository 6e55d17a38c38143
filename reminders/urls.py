from django.urls import path

from . import api, payment_staff_views, payment_views, views

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
    path("c/<str:token>/betala/", payment_views.checkin_pay, name="checkin-pay"),
    path("c/<str:token>/betalning/", payment_views.checkin_pay_status, name="checkin-pay-status"),
    path("swish/callback/", payment_views.swish_callback, name="swish-callback"),
    path(
        "swish/callback/refund/",
        payment_views.swish_refund_callback,
        name="swish-refund-callback",
    ),
    path("worklist/", views.worklist, name="worklist"),
    path("payments/", payment_staff_views.payments_day, name="payments-day"),
    path("worklist/<int:message_id>/handled/", views.worklist_handled, name="worklist-handled"),
]
