from django.contrib import admin

from .models import NoShowBaseline


@admin.register(NoShowBaseline)
class NoShowBaselineAdmin(admin.ModelAdmin[NoShowBaseline]):
    list_display = ["clinic", "year", "rate"]
    list_filter = ["year"]
