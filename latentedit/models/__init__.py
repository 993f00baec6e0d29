"""latentedit.models"""
