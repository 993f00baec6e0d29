"""latentedit.bench"""
